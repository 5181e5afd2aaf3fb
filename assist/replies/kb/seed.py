"""The user's knowledge base: opened, started from the bundled KB the first time, kept in the current embedding space.

The first start imports the bundled KB (ABCD procedures and Assist's general entries, a JSON file in
``resources/kb``) with the app's own text model, so the vectors always match the model that reads the customer.
The new file is built beside the target and linked into place, so two processes starting at once never see a
half-written knowledge base, and a failed first import leaves nothing behind. A prebuilt ``.sqlite3`` is copied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from assist.domain import ProgressState
from assist.replies.kb.store import EmbedFn, KnowledgeStore, KnowledgeStoreError, default_store_path


def open_user_kb(embed: EmbedFn | None = None, model_id: str = "", path: str | Path | None = None,
                 seed: Path | None = None, state: ProgressState | None = None) -> KnowledgeStore:
    """Open (creating on first use) the knowledge base; re-embed what the current model has not embedded."""
    state = state or ProgressState()
    target = Path(path) if path else default_store_path()
    if seed is not None and not target.exists():
        _seed(target, Path(seed), embed, model_id, state)
    store = KnowledgeStore(target, embed, model_id)
    try:
        if store.needs_reembedding():
            store.reembed(state)
    except KnowledgeStoreError:
        store.close()
        raise
    return store


def _seed(target: Path, seed: Path, embed: EmbedFn | None, model_id: str, state: ProgressState) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KnowledgeStoreError(f"Cannot create the knowledge base {target}: {exc}") from exc
    building = target.with_name(f".{target.name}.{os.getpid()}.building")
    _remove(building)
    try:
        if seed.suffix in (".sqlite3", ".db"):
            shutil.copyfile(seed, building)
        else:
            with KnowledgeStore(building, embed, model_id) as store:
                report = store.import_path(seed, ProgressState(lambda f, m: state.set_progress(f, f"knowledge base: {m}")))
                if not report.ok:
                    raise KnowledgeStoreError(f"The bundled knowledge base {seed} could not be imported: "
                                              + "; ".join(report.problems))
                store.checkpoint()
        try:
            os.link(building, target)
        except FileExistsError:  # another process got there first: its copy is as good
            pass
        except OSError:  # a file system without hard links
            if not target.exists():
                os.replace(building, target)
    except OSError as exc:
        raise KnowledgeStoreError(f"Cannot create the knowledge base {target}: {exc}") from exc
    finally:
        _remove(building)


def _remove(path: Path) -> None:
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


__all__ = ["open_user_kb"]
