# Shortcuts for the scripts the README names.
.PHONY: demo test bench clean
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
clean:
	rm -rf build eokg-data .pytest_cache .ruff_cache .mypy_cache
# Jena Fuseki GeoSPARQL beside eokg (bench/README.md); fetches the jars once.
bench-jena:
	bash scripts/vendor_jena.sh
	python3 -m bench.jena_bench --footprints 1000 --cells 10000 --others 100000
