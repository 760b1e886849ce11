// Public exports of src/samplers (filled in as the area grows).
export {};
