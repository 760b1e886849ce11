// Public exports of src/io.
export { loadSafetensors, parseSafetensors, saveSafetensors, serializeSafetensors, type SafetensorsFile } from './safetensors.js';
export { writeFileAtomic } from './atomic.js';
