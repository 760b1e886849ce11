// Public exports of src/evaluation: judging generated images against a data set.
export {
  type ClassifierConfig,
  DEFAULT_CLASSIFIER_CONFIG,
  FASHION_MNIST_CLASSES,
} from './classifier/config.js';
export { defaultClassifierDir, FashionMnistClassifier } from './classifier/model.js';
export {
  type EvaluationReport,
  type EvaluationStage,
  Evaluator,
  type EvaluatorOptions,
  type SampleEvaluation,
} from './evaluator.js';
export { FASHION_MNIST_DIR, openFashionMnist } from './fashion-mnist.js';
export { frechetDistance } from './frechet.js';
export { type GenerateOptions, generateSamples } from './generate.js';
export { type LabelHistogram, labelHistogram } from './label-histogram.js';
export { type DistanceSummary, type NearestNeighbours, nearestNeighbours } from './nearest-neighbour.js';
export { formatReport } from './report.js';
export { readSampleFolder } from './sample-folder.js';
export { type FeatureStatistics, featureStatistics } from './statistics.js';
