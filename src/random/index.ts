// Public exports of src/random (filled in as the area grows).
export {};
