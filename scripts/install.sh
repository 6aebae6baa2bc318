#!/usr/bin/env bash
# Install eokg and everything it needs on a fresh Debian machine.
#   scripts/install.sh [EXTRAS]     EXTRAS defaults to "all" (e.g. "all,dev")
# Java 17 (for Spark and the test OpenSearch node) comes from apt, only when no
# java is on PATH.  With the es extra, an OpenSearch integ-test node for the
# catalogue tests is unpacked into .vendor/ (git-ignored; see vendor_opensearch);
# with the spark extra, Apache Sedona's jars go to .vendor/sedona (see vendor_sedona).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
PYTHON="${PYTHON:-python3}"

if [[ ",$extras," == *",spark,"* || ",$extras," == *",es,"* || ",$extras," == *",all,"* ]] \
    && ! command -v java >/dev/null 2>&1; then
    echo "eokg install: no java found, installing OpenJDK 17 from apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
fi

# strict editable mode: the folder -> eokg.<folder> mapping is seen by mypy and tools.
"$PYTHON" -m pip install -q --disable-pip-version-check \
    -e ".[$extras]" --config-settings editable_mode=strict

# Keras 3 cannot fit with MultiWorkerMirroredStrategy on 2+ workers (keras issue
# 20585): eokg.ml uses tf-keras (TF_USE_LEGACY_KERAS=1). Its metadata would pull a
# second TensorFlow, hence --no-deps; the version follows the installed TF.
if [[ ",$extras," == *",ml,"* || ",$extras," == *",all,"* ]]; then
    tf_version="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("tensorflow"))')"
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps "tf-keras~=${tf_version%.*}.0"
fi

# The catalogue tests run the shared suite against a real OpenSearch node
# (tests/catalog/opensearch_node.py starts it from here; nothing is fetched at
# test time).  The integ-test zip is OpenSearch without plugins, security or a
# bundled JDK (it runs on the Java 17 above), and with only the transport module:
# the modules the catalogue needs (geo: geo_shape; reindex: _reindex and
# _delete_by_query) are assembled from their Maven Central jars, as in the full
# distribution.  Every file is checked against the SHA-512 or SHA-1 Maven
# Central publishes next to it; the zip's SHA-512 is also pinned here.
OPENSEARCH_VERSION="2.19.6"
OPENSEARCH_SHA512="8adbfaa13162b8d42b388ece6b39bfb7f1a349ab9c128d4eced78ba1dd43b5a10850b43b8aac19fa5ab11f4d5c355ddf6f6617514d6112b0936a1903005d1d36"
MAVEN="https://repo1.maven.org/maven2"
# Per module: its name, its plugin class, then group:artifact:version of its jars.
OPENSEARCH_MODULES=(
    "geo org.opensearch.geo.GeoModulePlugin org.opensearch.plugin:geo:${OPENSEARCH_VERSION}"
    "reindex org.opensearch.index.reindex.ReindexPlugin
        org.opensearch.plugin:reindex-client:${OPENSEARCH_VERSION}
        org.opensearch.client:opensearch-rest-client:${OPENSEARCH_VERSION}
        org.opensearch:opensearch-ssl-config:${OPENSEARCH_VERSION}
        org.apache.httpcomponents:httpclient:4.5.14
        org.apache.httpcomponents:httpcore:4.4.16
        org.apache.httpcomponents:httpasyncclient:4.1.5
        org.apache.httpcomponents:httpcore-nio:4.4.16
        commons-codec:commons-codec:1.18.0
        commons-logging:commons-logging:1.2"
)

# maven_fetch GROUP:ARTIFACT:VERSION EXT DEST: download one file, check its published digest.
maven_fetch() {
    local group artifact version
    IFS=: read -r group artifact version <<<"$1"
    local url="$MAVEN/${group//.//}/$artifact/$version/$artifact-$version.$2"
    curl -fsSL --retry 3 -o "$3" "$url"
    local algo want
    for algo in sha512 sha1; do
        if want="$(curl -fsSL --retry 3 "$url.$algo" 2>/dev/null)"; then
            want="${want%% *}"
            want="$(tr -d '[:space:]' <<<"$want")"
            if [ "$("${algo}sum" "$3" | cut -d" " -f1)" = "$want" ]; then
                return 0
            fi
            echo "eokg install: $algo mismatch for $url" >&2
            return 1
        fi
    done
    echo "eokg install: no published checksum for $url" >&2
    return 1
}

# vendor_server_zip PRODUCT TITLE COORD SHA512 DEST: unpack the integ-test zip at COORD
# (checked against Maven Central's digest and SHA512) into a temp folder under
# .vendor; prints that folder (the tree is "$tmp/PRODUCT-VERSION").  The caller
# completes the tree, then publishes it with publish_tree.
vendor_server_zip() {
    local product="$1" title="$2" coord="$3" sha512="$4" dest="$5"
    echo "eokg install: $title ${coord##*:} (integ-test zip) for the tests -> $dest" >&2
    mkdir -p .vendor
    local tmp
    tmp="$(mktemp -d .vendor/download.XXXXXX)"
    maven_fetch "$coord" zip "$tmp/$product.zip"
    if [ "$(sha512sum "$tmp/$product.zip" | cut -d" " -f1)" != "$sha512" ]; then
        echo "eokg install: the $title zip is not the pinned one" >&2
        return 1
    fi
    "$PYTHON" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
        "$tmp/$product.zip" "$tmp"
    chmod +x "$tmp/$product-${coord##*:}/bin/"*
    echo "$tmp"
}

# publish_tree TMP HOME DEST: the finished tree appears at once (a half download is never used)
publish_tree() {
    rm -rf "$3"
    mv "$2" "$3"
    rm -rf "$1"
}

vendor_opensearch() {
    local dest=".vendor/opensearch-${OPENSEARCH_VERSION}"
    if [ -x "$dest/bin/opensearch" ]; then
        return 0
    fi
    local tmp
    tmp="$(vendor_server_zip opensearch OpenSearch \
        "org.opensearch.distribution.integ-test-zip:opensearch:${OPENSEARCH_VERSION}" \
        "$OPENSEARCH_SHA512" "$dest")"
    local home="$tmp/opensearch-${OPENSEARCH_VERSION}"
    local spec name class coord
    for spec in "${OPENSEARCH_MODULES[@]}"; do
        read -r -a words <<<"$(tr '\n' ' ' <<<"$spec")"
        name="${words[0]}"
        class="${words[1]}"
        mkdir -p "$home/modules/$name"
        for coord in "${words[@]:2}"; do
            maven_fetch "$coord" jar "$home/modules/$name/$(cut -d: -f2 <<<"$coord").jar"
        done
        printf '%s\n' \
            "description=$name module, assembled by eokg scripts/install.sh from Maven Central" \
            "version=${OPENSEARCH_VERSION}" "name=$name" "classname=$class" "java.version=11" \
            "opensearch.version=${OPENSEARCH_VERSION}" "custom.foldername=" "extended.plugins=" \
            "has.native.controller=false" >"$home/modules/$name/plugin-descriptor.properties"
    done
    publish_tree "$tmp" "$home" "$dest"
}
# EOKG_VENDOR_OPENSEARCH=0 skips the test node (the Docker image: compose runs a real one)
if [[ ",$extras," == *",es,"* || ",$extras," == *",all,"* ]] \
    && [ "${EOKG_VENDOR_OPENSEARCH:-1}" != "0" ]; then
    vendor_opensearch
fi

# The same suite runs against a real Elasticsearch node (tests/catalog/opensearch_node.py,
# ElasticsearchNode).  Elasticsearch's integ-test zip has no bundled JDK (it runs
# on the Java 17 above) and no x-pack but core and security (switched off by the
# test node); it is checked against the SHA-1 Maven Central publishes and the
# SHA-512 pinned here.
ELASTICSEARCH_VERSION="8.19.21"
ELASTICSEARCH_SHA512="cf6b0a93860d329937ae7f913ec5073b0c726c77639764b93fc83a304aa1dd9d4defcfa2849948eea3b0b47c2065f994908603939fc2a4774c9c4d868c5ec1dd"
vendor_elasticsearch() {
    local dest=".vendor/elasticsearch-${ELASTICSEARCH_VERSION}"
    if [ -x "$dest/bin/elasticsearch" ]; then
        return 0
    fi
    local tmp
    tmp="$(vendor_server_zip elasticsearch Elasticsearch \
        "org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ELASTICSEARCH_VERSION}" \
        "$ELASTICSEARCH_SHA512" "$dest")"
    publish_tree "$tmp" "$tmp/elasticsearch-${ELASTICSEARCH_VERSION}" "$dest"
}
# EOKG_VENDOR_ELASTICSEARCH=0 skips it (the Docker image: compose runs a real server)
if [[ ",$extras," == *",es,"* || ",$extras," == *",all,"* ]] \
    && [ "${EOKG_VENDOR_ELASTICSEARCH:-1}" != "0" ]; then
    vendor_elasticsearch
fi

# Apache Sedona on Spark: the shaded Sedona jar and GeoTools wrapper that
# eokg.spark.session puts on spark.jars (setting spark.sedona_jars, default this
# folder).  Fetched here, at install time, with their Maven Central checksums, so
# a job never downloads anything; without the folder the jobs use shapely.
# The shaded jar is built per Spark minor: pyproject pins pyspark to the same 4.0.
SEDONA_JARS=(
    "org.apache.sedona:sedona-spark-shaded-4.0_2.13:1.8.0"
    "org.datasyslab:geotools-wrapper:1.8.1-33.1"
)
vendor_sedona() {
    local dest=".vendor/sedona" coord stamp
    stamp="$(printf '%s\n' "${SEDONA_JARS[@]}")"
    if [ -f "$dest/JARS" ] && [ "$(cat "$dest/JARS")" = "$stamp" ]; then
        return 0
    fi
    echo "eokg install: Apache Sedona jars for Spark -> $dest" >&2
    mkdir -p .vendor
    local tmp
    tmp="$(mktemp -d .vendor/download.XXXXXX)"
    chmod 755 "$tmp"  # mktemp's 700 would hide the jars from other users of the install
    for coord in "${SEDONA_JARS[@]}"; do
        maven_fetch "$coord" jar "$tmp/$(cut -d: -f2 <<<"$coord")-$(cut -d: -f3 <<<"$coord").jar"
    done
    printf '%s\n' "$stamp" >"$tmp/JARS"  # what is there, so a changed pin fetches again
    rm -rf "$dest"
    mv "$tmp" "$dest"  # the finished folder appears at once: a half download is never used
}
if [[ ",$extras," == *",spark,"* || ",$extras," == *",all,"* ]]; then
    vendor_sedona
fi
