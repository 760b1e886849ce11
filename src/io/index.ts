// Public exports of src/io.
export { writeFileAtomic } from './atomic.js';
export { readInputFile } from './read-file.js';
export {
  checkConfigKeys,
  parseJsonConfig,
  readJsonConfig,
  type CheckConfigKeysOptions,
  type JsonConfig,
  UNKNOWN_CONFIG_KEYS_WARNING,
} from './config.js';
export { decodePNG, encodePNG, type Image } from './png.js';
export {
  loadSafetensors,
  parseSafetensors,
  saveSafetensors,
  serializeSafetensors,
  type SafetensorsFile,
} from './safetensors.js';
export { loadTorchCheckpoint, parseTorchCheckpoint } from './torch-pickle.js';
export { ZipArchive, type ZipEntry } from './zip.js';
export { addVariant, findWeightsFile, type FindWeightsOptions, loadStateDict, toFloat32 } from './weights.js';
export * from './hub.js';
