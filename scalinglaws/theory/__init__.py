"""Theories of a `Setup` (`AbstractTheory`, returning a `Trajectory`), in float64: order-parameter
ODEs solved with one shared diffrax driver, closed forms and their analysis."""

from ._abstract import AbstractTheory as AbstractTheory, Trajectory as Trajectory
from ._analysis import (
    Linearisation as Linearisation,
    escape_rate as escape_rate,
    linearise as linearise,
    local_exponent as local_exponent,
    plateau_escape as plateau_escape,
    plateau_interval as plateau_interval,
    predicted_plateau_length as predicted_plateau_length,
    specialisation as specialisation,
    symmetric_fixed_point as symmetric_fixed_point,
    symmetric_state as symmetric_state,
)
from ._blocks import BlockArgs as BlockArgs, BlockState as BlockState, EigenBlockODE as EigenBlockODE
from ._dmft import (
    DMFTTheory as DMFTTheory,
    dmft_curves as dmft_curves,
    dmft_mode_discrepancy as dmft_mode_discrepancy,
    dmft_stationary as dmft_stationary,
    early_stopping as early_stopping,
    response_u as response_u,
)
from ._dmft_time import dmft_time_domain as dmft_time_domain
from ._driver import (
    ODESolution as ODESolution,
    TheoryError as TheoryError,
    check_solution as check_solution,
    check_step_limit as check_step_limit,
    solve_ode as solve_ode,
)
from ._emergence import (
    EmergenceTheory as EmergenceTheory,
    crossing_time as crossing_time,
    deflation_steps as deflation_steps,
    event_emergence as event_emergence,
    event_pairs as event_pairs,
    greedy_emergence as greedy_emergence,
    greedy_pairs as greedy_pairs,
    sampled_overlaps as sampled_overlaps,
    staircase as staircase,
)
from ._laplace import talbot_windows as talbot_windows
from ._linear import (
    linear_block_errors as linear_block_errors,
    linear_critical_learning_rate as linear_critical_learning_rate,
    linear_learning_curve as linear_learning_curve,
    linear_parameter_floor as linear_parameter_floor,
    linear_power_law as linear_power_law,
)
from ._plateau import (
    EscapePrediction as EscapePrediction,
    predict_escape as predict_escape,
    specialisation_part as specialisation_part,
)
from ._plateau_record import (
    add_simulated_escapes as add_simulated_escapes,
    escapes as escapes,
    plateau as plateau,
    plateau_reason as plateau_reason,
    plateau_record as plateau_record,
)
from ._random_features import (
    feature_statistics as feature_statistics,
    hermite_coefficients as hermite_coefficients,
    marchenko_pastur_trace as marchenko_pastur_trace,
    network_feature_statistics as network_feature_statistics,
    rf_asymptotic_error as rf_asymptotic_error,
    rf_asymptotic_error_large_n as rf_asymptotic_error_large_n,
    rf_error as rf_error,
)
from ._readout import (
    ReadoutArgs as ReadoutArgs,
    ReadoutODE as ReadoutODE,
    ReadoutState as ReadoutState,
    readout_initial_state as readout_initial_state,
    rf_critical_learning_rate as rf_critical_learning_rate,
    rf_stationary_error as rf_stationary_error,
    solve_readout as solve_readout,
)
from ._readout_theory import FeatureState as FeatureState, ReadoutTheory as ReadoutTheory
from ._registry import THEORIES as THEORIES, theory_for as theory_for
from ._rosenbrock import Rodas4 as Rodas4, dense_factorise as dense_factorise
from ._scm import (
    AbstractTwoLayerODE as AbstractTwoLayerODE,
    SCMArgs as SCMArgs,
    SCMState as SCMState,
    SoftCommitteeODE as SoftCommitteeODE,
    solve_soft_committee as solve_soft_committee,
)
from ._two_layer_theory import (
    EigenBlockTheory as EigenBlockTheory,
    InitialOverlaps as InitialOverlaps,
    SoftCommitteeTheory as SoftCommitteeTheory,
)
