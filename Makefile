# Shortcuts for the scripts the README names.
.PHONY: demo test bench clean
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
clean:
	rm -rf build eokg-data .pytest_cache .ruff_cache .mypy_cache
