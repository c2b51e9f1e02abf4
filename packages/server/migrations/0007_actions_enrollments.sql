-- The factors the client API enrolled for a user (actions/client-service.ts replaces the unverified ones at each new
-- enrolment): found without reading all of the user's actions, which a busy user has many of.
CREATE INDEX actions_enrollments ON actions (app_id, user_id) WHERE enroll_factor_id IS NOT NULL;
