// Public exports of src/schedulers (filled in as the area grows).
export {};
