"""Logs pyfunc models with MLflow's Python client, for the feature-schema tests.

usage: log_signed_models.py TRACKING_URI SPEC_JSON

SPEC_JSON: {"model name": [version, ...]} where a version is a list of inputs
[name, type, required] (its signature) or null (logged without a signature). Each version is
registered in order (v1 first) and left in stage None; the test moves stages itself.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.types.schema import ColSpec, Schema  # noqa: E402


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input.iloc[:, 0]


def main():
    mlflow.set_tracking_uri(sys.argv[1])
    spec = json.loads(sys.argv[2])
    for name, versions in spec.items():
        for inputs in versions:
            signature = None
            if inputs is not None:
                signature = ModelSignature(
                    inputs=Schema([ColSpec(t, n, required=r) for n, t, r in inputs]),
                    outputs=Schema([ColSpec("double")]),
                )
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=Echo(),
                signature=signature,
                registered_model_name=name,
                # Naming the requirements skips the client's environment inference.
                pip_requirements=["mlflow"],
            )
            print(name, info.registered_model_version, info.model_uri)


if __name__ == "__main__":
    main()
