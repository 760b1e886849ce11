// Public exports of src/schedulers.
export {
  ScoreSdeVeScheduler,
  OTHER_CLASS_CONFIG_WARNING,
  type ContinuousTimestep,
  type DiscreteTimesteps,
  type SchedulerFromConfigOptions,
  type SchedulerFromPretrainedOptions,
  type SchedulerOutput,
  type SdeVeOutput,
  type SchedulerStepOptions,
} from './scheduling-score-sde-ve.js';
export {
  SCORE_SDE_VE_CONFIG_KEYS,
  SCORE_SDE_VE_DEFAULTS,
  pythonFloatRepr,
  type ScoreSdeVeSchedulerConfig,
  type ScoreSdeVeSchedulerOptions,
} from './score-sde-ve-config.js';
export { torchLinspaceF32 } from './torch-linspace.js';
