"""Training: CSV validation, the feature pipeline, cross-validated training and artifacts.

This is the only part of Skyloop's core that needs pandas and scikit-learn;
everything here imports them lazily so that importing ``skyloop.training`` to
reach its errors or config stays cheap.
"""
