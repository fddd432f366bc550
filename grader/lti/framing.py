"""LTI pages live inside the LMS's frame: only they may be framed (by registered platforms), and only their
cookies are marked ``SameSite=None; Secure`` so the browser sends them back from inside that frame.

Everything else keeps X-Frame-Options DENY and the default SameSite. CSRF stays on: the answer form carries a
CSRF token whose cookie is one of the cookies marked here.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings

from grader.lti.models import Platform


def _platform_origins() -> list[str]:
    origins: set[str] = set(settings.GRADER_LTI_FRAME_ANCESTORS)
    for issuer, login_url in Platform.objects.filter(is_active=True).values_list("issuer", "auth_login_url"):
        for url in (issuer, login_url):
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def lti_frame(view):
    """Mark a view's page as shown inside the LMS: frameable by registered platforms, cookies for the frame."""

    @wraps(view)
    def framed(request, *args, **kwargs):
        request.lti_frame = True
        response = view(request, *args, **kwargs)
        response.xframe_options_exempt = True  # X-Frame-Options cannot name an origin; CSP frame-ancestors can
        origins = _platform_origins()
        response["Content-Security-Policy"] = "frame-ancestors " + (" ".join(origins) if origins else "'none'")
        return response

    return framed


class LtiFrameCookies:
    """Outside the session and CSRF middleware, so it sees the cookies they set on an LTI page's response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Browsers refuse SameSite=None without Secure, and Secure needs HTTPS: over plain HTTP (a laptop) the
        # cookies keep their defaults and the pages work when opened in a window of their own.
        if getattr(request, "lti_frame", False) and request.is_secure():
            for morsel in response.cookies.values():
                morsel["samesite"] = "None"
                morsel["secure"] = True
        return response
