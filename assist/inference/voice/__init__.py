"""Voice: audio checks and resampling (``audio``), frame features and prosody (``features``), the
summary vector (``summary``), the emotion network (``network``) and the engine (``model.VoiceModel``).

Qt-free; torch and onnxruntime are imported only inside the engine that needs them.
"""
