/** Bus topics of device streams: what every device of a user hears, and what one device hears. */
export const userDevicesTopic = (appId: string, userId: string) => `push:${appId}:${userId}`;
export const deviceTopic = (deviceId: string) => `device:${deviceId}`;
