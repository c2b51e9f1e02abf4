-- A link is made only for an identity that a QR login of the app verified: this index finds that login.
CREATE INDEX qr_logins_verified_identity ON qr_logins (app_id, identity_id) WHERE status = 'verified';
