"""Motion data: file readers, procedural generators and the evaluation sets."""
