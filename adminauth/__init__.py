"""The admin's front door: login throttling, optional two-factor login, the lockout page.

Failed logins are counted per account and per client address by django-axes; an admin
with a confirmed TOTP device (django-otp) gives its code at login, and ``ADMIN_OTP_REQUIRED``
makes that mandatory for staff. Enrollment: ``manage.py otp_enroll USERNAME``.
"""
