"""Vision towers: the image encoders of multimodal models and their projectors into the text
model (tower.py: the interface a family implements and the encoder pass; ends.py: the patch
embedding, position table, merge and projector; prompt.py: images in a text prompt). The
families live in parsers/vision/, one module each; `parsers.vision.VISION_REGISTRY` picks one by
the config's `model_type`."""
