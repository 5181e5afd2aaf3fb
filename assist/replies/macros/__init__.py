"""The reply bank (macros) and filling their placeholders."""
