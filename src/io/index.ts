// Public exports of src/io.
export { writeFileAtomic } from './atomic.js';
export {
  type CheckConfigKeysOptions,
  checkConfigKeys,
  type JsonConfig,
  parseJsonConfig,
  readJsonConfig,
  UNKNOWN_CONFIG_KEYS_WARNING,
} from './config.js';
export * from './hub.js';
export { decodePNG, encodePNG, type Image } from './png.js';
export { MAX_FILE_BYTES, readInputFile } from './read-file.js';
export {
  loadSafetensors,
  parseSafetensors,
  type SafetensorsFile,
  saveSafetensors,
  serializeSafetensors,
} from './safetensors.js';
export { loadTorchCheckpoint, parseTorchCheckpoint } from './torch-pickle.js';
export { addVariant, type FindWeightsOptions, findWeightsFile, loadStateDict, toFloat32 } from './weights.js';
export { ZipArchive, type ZipEntry } from './zip.js';
