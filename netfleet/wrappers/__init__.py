"""Keras' `keras.wrappers` names, so course code runs with only its imports changed."""
