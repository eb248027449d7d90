"""moto's server with Canonical's public SSM parameters in place.

moto serves a few public /aws/service/... parameters (Amazon Linux, ECS, regions) but not
/aws/service/canonical/..., and refuses PutParameter under /aws ("No access to reserved
parameter name"), exactly as AWS does. So this launcher teaches moto's parameter store to load
the names and values of a JSON object ({"/aws/service/canonical/...": "ami-..."}) from the file
named by MOTO_PUBLIC_PARAMETERS_PATH, the first time anything under /aws/service/canonical/ is
read in an account and region — again after every /moto-api/reset, which rebuilds the stores,
so a test changes the parameters by rewriting the file and resetting.

It also works around a moto 5.2 bug: loading MOTO_AMIS_PATH images parses each entry's
creation_date in place, in the module-wide list, so the next load of that list — the second
region used, or any /moto-api/reset — fails on the already parsed value (HTTP 500, and the
reset leaves no images at all). Each load here starts from a fresh copy of the file's entries.

Usage: python3 moto-server.py -H 127.0.0.1 -p PORT   (the arguments of python3 -m moto.server)
"""

import copy
import json
import os
import threading
from collections import defaultdict

from moto.core.utils import utcnow
from moto.ec2.models import amis
from moto.server import main
from moto.ssm import models

_PRISTINE_AMIS = copy.deepcopy(amis.AMIS)
_AMIS_LOCK = threading.Lock()
_original_load_amis = amis.AmiBackend._load_amis


def _load_amis(self):
    with _AMIS_LOCK:
        amis.AMIS[:] = copy.deepcopy(_PRISTINE_AMIS)
        _original_load_amis(self)


amis.AmiBackend._load_amis = _load_amis

PREFIX = "/aws/service/canonical/"
_original = models.ParameterDict._check_loading_status


def _check_loading_status(self, key):
    _original(self, key)
    path = os.environ.get("MOTO_PUBLIC_PARAMETERS_PATH")
    if not path or not str(key or "").startswith(PREFIX[:-1]):
        return
    if getattr(self, "_canonical_loaded", False):
        return
    self._canonical_loaded = True
    with open(path, encoding="utf-8") as f:
        parameters = json.load(f)
    for name, value in parameters.items():
        versions = defaultdict.__getitem__(self, name)
        versions.append(
            models.Parameter(
                account_id=self.account_id,
                name=name,
                value=value,
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=utcnow(),
                version=len(versions) + 1,
                data_type="aws:ec2:image",
            )
        )


models.ParameterDict._check_loading_status = _check_loading_status

if __name__ == "__main__":
    main()
