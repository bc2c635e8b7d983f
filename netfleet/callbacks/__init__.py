"""Callbacks: objects called at the hooks of fit, with Keras' names."""

from netfleet.callbacks.base import Callback, CallbackList
from netfleet.callbacks.csv_logger import CSVLogger
from netfleet.callbacks.early_stopping import EarlyStopping
from netfleet.callbacks.history import History
from netfleet.callbacks.lambda_callback import LambdaCallback
from netfleet.callbacks.learning_rate_scheduler import LearningRateScheduler
from netfleet.callbacks.model_checkpoint import ModelCheckpoint
from netfleet.callbacks.monitor import MonitorCallback
from netfleet.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from netfleet.callbacks.tensorboard import TensorBoard
from netfleet.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
