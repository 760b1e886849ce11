// Public exports of src/models/unet-2d
export {};
