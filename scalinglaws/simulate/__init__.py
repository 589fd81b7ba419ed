"""Online SGD simulation of teacher-student networks."""

from ._engine import (
    Simulation as Simulation,
    auto_chunk_size as auto_chunk_size,
    initial_networks as initial_networks,
    simulate as simulate,
)
from ._grid import log_time_grid as log_time_grid
from ._reduced_prepare import why_not_reduced as why_not_reduced
from ._sgd import LearningRates as LearningRates, readout_step as readout_step, sgd_step as sgd_step
