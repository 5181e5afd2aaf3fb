"""Command-line pieces for live calls: ``assist devices``, ``assist eval asr`` and the call options of
``run`` / ``demo`` (kept apart from cli.py to keep each module small)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def call_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent-device", help="agent microphone, a key from 'assist devices' ('' for none)")
    p.add_argument("--customer-device", help="customer's side, a key from 'assist devices' ('' for none)")
    p.add_argument("--chat-feed-port", type=int, metavar="PORT",
                   help="a fixed port for the chat feed on 127.0.0.1 (1024-65535; default: a free one); either way "
                        "chat_feed.json in the config folder says where it listens")
    p.add_argument("--chat-feed", action="store_true",
                   help="listen for chat messages from other tools on 127.0.0.1 (token in the config folder)")
    p.add_argument("--follow", metavar="FILE.jsonl", help="take chat messages appended to this JSON-lines file")
    p.add_argument("--settings", type=Path, help="settings file (default: settings.json in Assist's config folder)")
    p.add_argument("--asr", help="speech model: a CTranslate2 Whisper folder (path or name under models/asr), "
                                 "or 'pocketsphinx' (default: the shipped Whisper tiny.en)")


def demo_call_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--call", metavar="FILE.wav",
                   help="replay a recorded call (mono = customer; stereo = agent left, customer right)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = real time)")
    p.add_argument("--record", action="store_true", help="also record the replayed call (Ogg/Opus per side)")


def cmd_devices(args: argparse.Namespace) -> int:
    from assist.capture.devices import default_device, list_devices

    devices = list_devices()
    if args.json:
        print(json.dumps([d.__dict__ for d in devices], indent=2))
        return 0
    if not devices:
        print("No audio inputs found. Linux: is PulseAudio/PipeWire running (pactl info)? "
              "Is PortAudio installed (apt install libportaudio2)?")
        return 1
    defaults = {side: default_device(side, devices) for side in ("agent", "customer")}
    for device in devices:
        marks = [side for side, d in defaults.items() if d is not None and d.key == device.key]
        kind = "output (customer side)" if device.loopback else "input"
        print(f"{device.key}\n    {device.label} [{kind}]" + (f"  <- default for {', '.join(marks)}" if marks else ""))
    return 0


def cmd_eval_asr(args: argparse.Namespace) -> int:
    from assist.training.eval_asr import main as evaluate

    argv = ["--engine", args.engine] + (["--model", args.model] if args.model else [])
    return int(evaluate(argv))


def cmd_eval_fusion(args: argparse.Namespace) -> int:
    from assist.inference.fusion.model import default_model_dir
    from assist.training.data import default_data_dir
    from assist.training.train_fusion import rescore_fusion

    model_dir = Path(args.model_dir or default_model_dir())
    if not (model_dir / "weights.safetensors").is_file():
        print(f"assist eval fusion: no fusion weights in {model_dir}", file=__import__("sys").stderr)
        return 2
    result = rescore_fusion(Path(args.data or default_data_dir()), model_dir)
    print(json.dumps(result, indent=2))
    return 0


def add_commands(sub: Any, ev: Any) -> None:
    devices = sub.add_parser("devices", help="list audio inputs and their keys (for --agent/--customer-device)")
    devices.add_argument("--json", action="store_true")
    devices.set_defaults(func=cmd_devices)
    eval_asr = ev.add_parser("asr", help="word error rate on Debian's pocketsphinx-testdata recordings")
    eval_asr.add_argument("--engine", default="whisper", choices=["whisper", "pocketsphinx"])
    eval_asr.add_argument("--model", help="a CTranslate2 Whisper folder (default: the shipped tiny.en)")
    eval_asr.set_defaults(func=cmd_eval_asr)
    eval_fusion = ev.add_parser("fusion", help="score the shipped fusion model again on the shared data (JSON)")
    eval_fusion.add_argument("--data", help="shared data folder (default ../shared/data)")
    eval_fusion.add_argument("--model-dir", help="default models/fusion")
    eval_fusion.set_defaults(func=cmd_eval_fusion)
