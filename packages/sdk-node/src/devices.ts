import type { Device, DeviceRegistration } from '@tessera/contracts';
import type { CreatingCallOptions } from './admin-apps.ts';
import type { HttpClient } from './http-client.ts';
import { pathSegment, userPath } from './path-segment.ts';

const devicePath = (deviceId: string) => `/v1/devices/${pathSegment('deviceId', deviceId)}`;

/**
 * Users' push devices: the authenticators that answer push challenges. The person registers one by
 * scanning a one-time QR code; it then is an active `push` factor of theirs:
 *
 * ```ts
 * const registration = await tessera.devices.createRegistration('user-42');
 * // Show <img src={registration.qr_data_url}>; the person scans it with their authenticator.
 * const [device] = await tessera.devices.list('user-42');
 * // Lost phone: the device and its push factor go.
 * await tessera.devices.delete(device.device_id);
 * ```
 */
export class Devices {
  constructor(private readonly http: HttpClient) {}

  /**
   * A registration for the user's authenticator: `registration_uri` (tessera://register…) and `qr_data_url`
   * (a PNG of its QR code). Its token registers one device, once, within 10 minutes (`expires_at`).
   * Creates the user if needed.
   */
  async createRegistration(userId: string, call: CreatingCallOptions = {}): Promise<DeviceRegistration> {
    return this.http.request({
      method: 'POST',
      path: `${userPath(userId)}/device-registrations`,
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }

  /** The user's registered devices; `404` for a user the app never used. */
  async list(userId: string): Promise<Device[]> {
    const { data } = await this.http.request<{ data: Device[] }>({ method: 'GET', path: `${userPath(userId)}/devices` });
    return data;
  }

  async retrieve(deviceId: string): Promise<Device> {
    return this.http.request({ method: 'GET', path: devicePath(deviceId) });
  }

  /** Unregisters the device by deleting its push factor (a pending challenge for that factor fails). */
  async delete(deviceId: string): Promise<void> {
    await this.http.request<undefined>({ method: 'DELETE', path: devicePath(deviceId) });
  }
}
