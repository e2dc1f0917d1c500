# `sam build --template-file deploy/template.yaml` runs build-AuditFunction (the function's
# Metadata says BuildMethod: makefile) with ARTIFACTS_DIR set to the package directory.
# deploy/build_lambda.py says what goes in the package and why.
build-AuditFunction:
	python3 deploy/build_lambda.py "$(ARTIFACTS_DIR)"
