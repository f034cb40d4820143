"""Pose: the networks (MobileNet-thin, CMU), their weights and registry, decoding maps into people.\n\nImports squat.io and the foundations (squat.errors, squat.settings, squat.skeleton).\n"""
