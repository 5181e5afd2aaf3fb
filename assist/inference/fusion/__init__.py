"""The multimodal fusion model: per-modality feature tokens, cross-modal attention, multi-task heads.

``features`` turns encoder outputs into the fusion inputs (numpy), ``network`` is the PyTorch module
(training and ONNX export only), ``model`` runs the exported graph on onnxruntime and explains which
modality drove each estimate.
"""
