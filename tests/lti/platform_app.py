"""A test LMS: the LTI 1.3 platform of the `lti1p3platform` package (written by others), in a tiny WSGI app.

Run as its own process by tests/lti/conftest.py:

    python tests/lti/platform_app.py PORT TOOL_URL [HOST]

It hosts two platforms, ``a`` and ``b`` (issuers ``http://HOST:PORT/a`` and ``.../b``; HOST defaults to
127.0.0.1, the server listens there), each with its own key pair. What it signs, validates and answers is the
package's code; this file only routes requests, keeps state in memory and offers the launches a test asks for:

- ``GET /<p>/start?user=&role=learner|instructor|ta&context=&link=&question=&message=resource|deep&tamper=``
  starts a launch (a redirect to grader's login URL). ``tamper`` makes it a bad one: ``expired`` (exp in the past),
  ``forged`` (signed with a key that is not the platform's, under the platform's key id), ``audience`` (issued to
  another client id), ``deployment`` (an unknown deployment id).
- ``GET /<p>/course?...`` (same parameters): a course page showing that launch in an iframe.
- ``GET /<p>/authorize`` is the OIDC authorization endpoint: it answers with the auto-submitting launch form.
- ``POST /<p>/token`` issues access tokens; ``POST /<p>/lineitems/<id>/scores`` receives scores (AGS);
  ``POST /<p>/deep-link-return`` receives deep-linking responses; ``GET /<p>/jwks`` is the platform's keyset.
- Dynamic registration, which the package does not implement, is a stand-in written here after the LTI Dynamic
  Registration spec: ``GET /<p>/.well-known/openid-configuration`` and ``POST /<p>/register`` (bearer token
  ``reg-token-<p>``), answering with client id ``grader-<p>`` and the deployment id the launches use.
- ``GET /_state`` returns what it received (scores, token requests, content items) as JSON;
  ``POST /_fail_scores?count=N`` makes the next N score posts answer 500.
"""

from __future__ import annotations

import html
import json
import sys
import threading
import typing as t
import uuid
from socketserver import ThreadingMixIn
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from jwcrypto.jwk import JWK
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService

ROLES = {
    "learner": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    "instructor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    "ta": ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
}
DEPLOYMENT_ID = "deployment-1"

LOCK = threading.Lock()
STATE: dict[str, t.Any] = {
    "scores": [], "token_requests": 0, "content_items": [], "fail_scores": 0, "registrations": [],
}  # fmt: skip
HINTS: dict[str, dict[str, str]] = {}


def _pem_pair() -> tuple[str, str]:
    key = JWK.generate(kty="RSA", size=2048)
    return key.export_to_pem(private_key=True, password=None).decode(), key.export_to_pem().decode()


class Platforms:
    def __init__(self, base_url: str, tool_url: str) -> None:
        self.base_url = base_url
        self.tool_url = tool_url
        self.keys = {name: _pem_pair() for name in ("a", "b")}
        self.rogue_private, _ = _pem_pair()

    def registration(self, name: str) -> Registration:
        private, public = self.keys[name]
        return (
            Registration()
            .set_iss(f"{self.base_url}/{name}")
            .set_client_id(f"grader-{name}")
            .set_deployment_id(DEPLOYMENT_ID)
            .set_oidc_login_url(f"{self.tool_url}/lti/login/")
            .set_launch_url(f"{self.tool_url}/lti/launch/")
            .set_deeplink_launch_url(f"{self.tool_url}/lti/launch/")
            .set_tool_key_set_url(f"{self.tool_url}/lti/jwks/")
            .set_platform_private_key(private)
            .set_platform_public_key(public)
        )


PLATFORMS: Platforms


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: t.Any) -> None:
        self._registration = PLATFORMS.registration(kwargs["name"])

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        return self._registration


class WsgiRequest(Request):
    def build_metadata(self, request: dict) -> TRequest:
        return request


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: t.Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class Launch(LTIAdvantageMessageLaunchAbstract):
    tamper = ""

    def render_launch_form(self, launch_data: dict, **kwargs: t.Any) -> str:
        return (
            f'<form method="POST" action="{html.escape(launch_data["launch_url"])}" id="form">'
            f'<input type="hidden" name="id_token" value="{html.escape(launch_data["id_token"])}">'
            f'<input type="hidden" name="state" value="{html.escape(launch_data["state"])}">'
            "</form><script>document.getElementById('form').submit();</script>"
        )

    def get_launch_message(self, include_extra_claims: bool = True) -> dict:
        message = super().get_launch_message(include_extra_claims)
        if self.tamper == "audience":
            message["aud"] = message["azp"] = "someone-else"
        if self.tamper == "deployment":
            message["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "unknown-deployment"
        return message

    def generate_launch_request(self) -> dict:
        if self.tamper == "forged":
            launch_message, state = self.get_launch_data()
            kid = self._registration.get_kid()
            token = Registration.encode_and_sign(
                launch_message, PLATFORMS.rogue_private, headers={"kid": kid}, expiration=300
            )
            return {"state": state, "id_token": token}
        return super().generate_launch_request()


class Scores(AssignmentsGradesService):
    def find_lineitems(self, **kwargs: t.Any) -> dict:
        return {"content": [], "has_next": False, "next": None}

    def find_lineitem(self, line_item_id: str) -> dict:
        return {"id": line_item_id}

    def create_lineitem(self, creation_data: dict) -> dict:
        return creation_data

    def update_lineitem(self, update_data: dict) -> dict:
        return update_data

    def delete_lineitem(self, line_item_id: str) -> None:
        return None

    def update_score(self, line_item_id: str, score: dict) -> UpdateScoreStatus:
        with LOCK:
            STATE["scores"].append({"lineitem": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id: str, **kwargs: t.Any) -> dict:
        return {"content": [], "has_next": False, "next": None}


def _respond(start_response, status: str, body: str, content_type: str = "text/html", headers=()) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers])
    return [data]


def app(environ, start_response):
    method = environ["REQUEST_METHOD"]
    path = environ["PATH_INFO"]
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    content_type = environ.get("CONTENT_TYPE", "")
    form = dict(parse_qsl(raw.decode())) if "form" in content_type else {}
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
    request = WsgiRequest(
        {
            "method": method,
            "form_data": form,
            "get_data": query,
            "headers": headers,
            "content_type": content_type,
            "path": path,
            "json": json.loads(raw) if "json" in content_type and raw else None,
        }
    )
    if path == "/_state":
        with LOCK:
            return _respond(start_response, "200 OK", json.dumps(STATE), "application/json")
    if path == "/_fail_scores" and method == "POST":
        with LOCK:
            STATE["fail_scores"] = int(query.get("count", "1"))
        return _respond(start_response, "200 OK", "{}", "application/json")
    parts = path.strip("/").split("/")
    if not parts or parts[0] not in ("a", "b"):
        return _respond(start_response, "404 Not Found", "unknown platform")
    name, rest = parts[0], parts[1:]
    conf = PlatformConf(name=name)
    conf.get_registration()
    base = f"{PLATFORMS.base_url}/{name}"

    if rest == ["jwks"]:
        return _respond(start_response, "200 OK", json.dumps(conf.get_jwks()), "application/json")
    if rest == [".well-known", "openid-configuration"]:
        configuration = {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "registration_endpoint": f"{base}/register",
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {"product_family_code": "testlms"},
        }
        return _respond(start_response, "200 OK", json.dumps(configuration), "application/json")
    if rest == ["register"] and method == "POST":
        if headers.get("Authorization") != f"Bearer reg-token-{name}":
            return _respond(start_response, "401 Unauthorized", "{}", "application/json")
        tool = json.loads(raw)
        with LOCK:
            STATE["registrations"].append(tool)
        tool_configuration = "https://purl.imsglobal.org/spec/lti-tool-configuration"
        answer = {
            **tool,
            "client_id": f"grader-{name}",
            tool_configuration: {**tool[tool_configuration], "deployment_id": DEPLOYMENT_ID},
        }
        return _respond(start_response, "200 OK", json.dumps(answer), "application/json")
    if rest == ["course"]:
        # A course page of the LMS with the activity in a frame, as LMSs show external tools.
        start = html.escape(f"/{name}/start?" + environ.get("QUERY_STRING", ""))
        page = f'<h1>Course page</h1><iframe id="tool" src="{start}" width="900" height="600"></iframe>'
        return _respond(start_response, "200 OK", page)
    if rest == ["start"]:
        hint = uuid.uuid4().hex
        HINTS[hint] = query
        login = Login(request, conf)
        login.set_lti_message_hint(hint=hint)
        return _respond(start_response, "302 Found", "", headers=[("Location", login.initiate_login(query["user"]))])
    if rest == ["authorize"]:
        launch_params = HINTS[query["lti_message_hint"]]
        launch = Launch(request, conf)
        launch.tamper = launch_params.get("tamper", "")
        if launch.tamper == "expired":
            launch.set_id_token_expiration(-120)
        launch.set_user_data(launch_params["user"], ROLES[launch_params.get("role", "learner")])
        launch.set_launch_context_claim(
            launch_params["context"], context_title=f"Course {launch_params['context']}", context_label="BIO101"
        )
        if launch_params.get("message") == "deep":
            launch.set_dl(f"{base}/deep-link-return", title="grader")
        else:
            link = launch_params["link"]
            launch.set_resource_link_claim(link, title=f"Activity {link}")
            launch.set_ags(f"{base}/lineitems", f"{base}/lineitems/{link}", allow_creating_lineitems=False)
            if launch_params.get("question"):
                launch.set_custom_parameters_claim({"grader_question": launch_params["question"]})
        return _respond(start_response, "200 OK", launch.lti_launch())
    if rest == ["token"] and method == "POST":
        with LOCK:
            STATE["token_requests"] += 1
        token = conf.get_access_token(form)
        return _respond(start_response, "200 OK", json.dumps(token), "application/json")
    if len(rest) == 3 and rest[0] == "lineitems" and rest[2] == "scores":
        with LOCK:
            failing = STATE["fail_scores"] > 0
            if failing:
                STATE["fail_scores"] -= 1
        if failing:
            return _respond(start_response, "500 Internal Server Error", "{}", "application/json")
        service = Scores(request, conf, f"{base}/lineitems", f"{base}/lineitems/{rest[1]}")
        response = service.handle_resp(service.handle_update_score, line_item_id=rest[1])
        return _respond(
            start_response, f"{response.code} {response.message}", json.dumps(response.result), "application/json"
        )
    if rest == ["deep-link-return"] and method == "POST":
        items = conf.validate_deeplinking_resp(form)
        with LOCK:
            STATE["content_items"].extend(items)
        return _respond(start_response, "200 OK", json.dumps(items), "application/json")
    return _respond(start_response, "404 Not Found", "not found")


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: t.Any) -> None:
        pass


def main() -> None:
    global PLATFORMS
    port, tool_url = int(sys.argv[1]), sys.argv[2].rstrip("/")
    host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    PLATFORMS = Platforms(f"http://{host}:{port}", tool_url)
    server = make_server("127.0.0.1", port, app, server_class=ThreadingServer, handler_class=QuietHandler)
    print(json.dumps({name: {"public_key": keys[1]} for name, keys in PLATFORMS.keys.items()}), flush=True)
    print("platform ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
