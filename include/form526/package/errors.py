"""The one exception a package build raises for bad data, and its stable error codes.

Error codes raised as `PackageError(code, detail)`; `detail` never holds input data:

=======================  ==================================================================
code                     meaning
=======================  ==================================================================
form_json_invalid        form_json is missing, not JSON, or not a JSON object
form_json_too_large      form_json is longer than `json_limits.MAX_JSON_CHARS`: not parsed
form_json_too_deep       form_json nests deeper than `json_limits.MAX_JSON_DEPTH`: not parsed
form526_missing          form_json has no `form526.form526` object
auth_headers_invalid     auth_headers_json is missing, not JSON, or not a JSON object, or is
                         over the same size or nesting limits
identity_missing         auth headers lack the veteran's first or last name (or it has no
                         letters usable in metadata)
file_number_invalid      "file number is invalid. It must be 8 or 9 digits"
render_failed            an unexpected exception while rendering; detail names only its class
package_unexpected       an unexpected exception outside rendering (raised by the delivery
                         code around `build_package`); detail names only its class
=======================  ==================================================================
"""

from __future__ import annotations

FORM_JSON_INVALID = "form_json_invalid"
FORM_JSON_TOO_LARGE = "form_json_too_large"
FORM_JSON_TOO_DEEP = "form_json_too_deep"
FORM526_MISSING = "form526_missing"
AUTH_HEADERS_INVALID = "auth_headers_invalid"
IDENTITY_MISSING = "identity_missing"
FILE_NUMBER_INVALID = "file_number_invalid"
RENDER_FAILED = "render_failed"
PACKAGE_UNEXPECTED = "package_unexpected"
ERROR_CODES = frozenset({
    FORM_JSON_INVALID, FORM_JSON_TOO_LARGE, FORM_JSON_TOO_DEEP, FORM526_MISSING, AUTH_HEADERS_INVALID,
    IDENTITY_MISSING, FILE_NUMBER_INVALID, RENDER_FAILED,
    PACKAGE_UNEXPECTED,
})

FILE_NUMBER_MESSAGE = "file number is invalid. It must be 8 or 9 digits"


class PackageError(Exception):
    """One submission cannot be packaged. `code` is a stable error code, `detail` a PII-free sentence."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
