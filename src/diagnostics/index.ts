export {
  type FitGaussianOptions,
  FULL_COVARIANCE_MAX_DIM,
  fitGaussian,
  type GaussianStatistics,
  gaussianDenoise,
  gaussianDenoiserMse,
  gaussianScore,
  LOW_RANK_RANK,
  LOW_RANK_ROWS,
  type RowReader,
} from '../math/gaussian.js';
export {
  type Denoiser,
  DIAGNOSTIC_SIGMAS,
  diagnosticSigmas,
  formatPerSigmaReport,
  type PerSigmaOptions,
  type PerSigmaReport,
  type PerSigmaRow,
  perSigmaReport,
} from './per-sigma.js';
export {
  findModelGaussian,
  fitDatasetGaussian,
  GAUSSIAN_FILE,
  loadGaussian,
  saveGaussian,
} from './statistics-file.js';
export { unetDenoiser } from './unet-denoiser.js';
