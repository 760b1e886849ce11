// Public exports of src/schedulers.
export {
  type ContinuousTimestep,
  type DiscreteTimesteps,
  OTHER_CLASS_CONFIG_WARNING,
  type SchedulerFromConfigOptions,
  type SchedulerFromPretrainedOptions,
  type SchedulerOutput,
  type SchedulerStepOptions,
  ScoreSdeVeScheduler,
  type SdeVeOutput,
} from './scheduling-score-sde-ve.js';
export {
  pythonFloatRepr,
  SCORE_SDE_VE_CONFIG_KEYS,
  SCORE_SDE_VE_DEFAULTS,
  type ScoreSdeVeSchedulerConfig,
  type ScoreSdeVeSchedulerOptions,
} from './score-sde-ve-config.js';
export { torchLinspaceF32 } from './torch-linspace.js';
