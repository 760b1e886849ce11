// Public exports of src/pipelines (filled in as the area grows).
export {};
