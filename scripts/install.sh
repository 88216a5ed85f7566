#!/usr/bin/env bash
# Idempotent installer for spon: Debian packages, PETSc 3.26.0 (cached outside
# the repository), and a .venv holding firedrake, torch 2.13.0 (CPU) and spon.
#
# Environment:
#   SPON_CACHE            where PETSc is built (default ~/.cache/spon)
#   SPON_FIREDRAKE_VENV   an existing virtualenv with firedrake: .venv links to it
#   PETSC_DIR, PETSC_ARCH an existing PETSc 3.26.0 build: skip our own build
#   SPON_SKIP_APT=1       do not touch Debian packages
#   SPON_EXTRAS           pip extras for spon (default "test,docs")
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
PETSC_VERSION=3.26.0
FIREDRAKE_VERSION=2026.10.0
TORCH_VERSION=2.13.0
CACHE="${SPON_CACHE:-$HOME/.cache/spon}"
EXTRAS="${SPON_EXTRAS:-test,docs}"
VENV="$here/.venv"
# pip.conf here names local indexes that may be absent; hide pip's warnings about them.
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
log() { printf '\033[1m[spon-install %(%H:%M:%S)T]\033[0m %s\n' -1 "$*"; }
t0=$SECONDS

apt_pkgs=(bison build-essential cmake flex gfortran git ninja-build pkg-config
  python3-dev zlib1g-dev libhdf5-openmpi-dev libhwloc-dev libmumps-ptscotch-dev
  libmetis-dev libopenblas-dev libopenmpi-dev openmpi-bin libptscotch-dev
  libscalapack-openmpi-dev libsuitesparse-dev)

# --- 0. an existing firedrake venv: use it as-is --------------------------------
# Once linked, .venv remembers the choice for later runs.
if [[ -L "$VENV" && -z "${SPON_FIREDRAKE_VENV:-}" ]]; then SPON_FIREDRAKE_VENV="$(readlink -f "$VENV")"; fi
if [[ -n "${SPON_FIREDRAKE_VENV:-}" ]]; then
  py="$SPON_FIREDRAKE_VENV/bin/python"
  "$py" -c "import firedrake" 2>/dev/null \
    || { echo "SPON_FIREDRAKE_VENV=$SPON_FIREDRAKE_VENV: expected a virtualenv in which 'import firedrake' works" >&2; exit 2; }
  if [[ -e "$VENV" && ! -L "$VENV" ]]; then
    echo "$VENV exists and is not a link; remove it to use SPON_FIREDRAKE_VENV" >&2; exit 2
  fi
  ln -sfn "$SPON_FIREDRAKE_VENV" "$VENV"
  quiet "$py" -m pip install -q "torch==$TORCH_VERSION" -e ".[$EXTRAS]"
  log "using existing firedrake in $SPON_FIREDRAKE_VENV ($((SECONDS - t0)) s)"
  exit 0
fi

# --- 1. Debian packages ----------------------------------------------------------
if [[ "${SPON_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
    log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "Debian packages present"
  fi
fi

# --- 2. PETSc --------------------------------------------------------------------
if [[ -n "${PETSC_DIR:-}" ]]; then
  : "${PETSC_ARCH:=}"
  [[ -f "$PETSC_DIR/$PETSC_ARCH/lib/petsc/conf/petscvariables" ]] \
    || { echo "PETSC_DIR=$PETSC_DIR PETSC_ARCH=$PETSC_ARCH: expected a built PETSc ($PETSC_DIR/$PETSC_ARCH/lib/petsc/conf/petscvariables missing)" >&2; exit 2; }
  log "using existing PETSc at $PETSC_DIR/$PETSC_ARCH"
else
  export PETSC_DIR="$CACHE/petsc-$PETSC_VERSION" PETSC_ARCH=arch-firedrake-default
  stamp="$PETSC_DIR/$PETSC_ARCH/.spon-built"
  if [[ -f "$stamp" ]]; then
    log "PETSc $PETSC_VERSION cached at $PETSC_DIR"
  else
    log "building PETSc $PETSC_VERSION into $PETSC_DIR (about 10 min on 2 cores)"
    mkdir -p "$CACHE"
    rm -rf "$PETSC_DIR" "$CACHE/petsc-src.tmp"
    mkdir -p "$CACHE/petsc-src.tmp"
    # The PyPI sdist of petsc is the full source tree. (--no-binary :all: would also
    # build every build-backend of its metadata step from source: two minutes lost.)
    quiet python3 -m pip download -q --no-deps --no-binary petsc "petsc==$PETSC_VERSION" -d "$CACHE/petsc-src.tmp"
    tar -xzf "$CACHE"/petsc-src.tmp/petsc-$PETSC_VERSION.tar.gz -C "$CACHE/petsc-src.tmp"
    mv "$CACHE/petsc-src.tmp/petsc-$PETSC_VERSION" "$PETSC_DIR"
    rm -rf "$CACHE/petsc-src.tmp"
    (
      cd "$PETSC_DIR"
      # firedrake-configure does not know Debian, so these are its options by hand.
      python3 ./configure PETSC_ARCH=$PETSC_ARCH --with-c2html=0 --with-debugging=0 \
        --with-fortran-bindings=0 --with-shared-libraries=1 --with-strict-petscerrorcode \
        --COPTFLAGS="-O3 -march=native" --CXXOPTFLAGS="-O3 -march=native" --FOPTFLAGS="-O3 -march=native" \
        --with-hdf5-include=/usr/include/hdf5/openmpi \
        --with-hdf5-lib="[/usr/lib/x86_64-linux-gnu/hdf5/openmpi/libhdf5.so,/usr/lib/x86_64-linux-gnu/hdf5/openmpi/libhdf5_hl.so]" \
        --with-metis --with-mumps --with-ptscotch \
        --with-ptscotch-lib='-lptesmumps -lptscotch -lptscotcherr -lesmumps -lscotch -lscotcherr' \
        --with-ptscotch-include=/usr/include/scotch \
        --with-scalapack-lib=-lscalapack-openmpi --with-suitesparse --with-zlib > configure.out 2>&1 \
        || { tail -40 configure.out; exit 1; }
      make PETSC_DIR="$PETSC_DIR" PETSC_ARCH=$PETSC_ARCH MAKE_NP="$(nproc --all)" all > make.out 2>&1 \
        || { tail -40 make.out; exit 1; }
    )
    touch "$stamp"
    log "PETSc built ($((SECONDS - t0)) s so far)"
  fi
fi

# --- 3. the virtualenv -----------------------------------------------------------
# The stamp records what the venv was built from (the installer and pyproject's
# [project] table, not its tool settings); a change re-runs the pip steps.
project="$(python3 -c 'import json, tomllib; print(json.dumps(tomllib.load(open("pyproject.toml", "rb"))["project"], sort_keys=True))')"
want="$( { echo "$project"; cat scripts/install.sh; } | sha256sum | cut -c1-16) $PETSC_DIR/$PETSC_ARCH"
vstamp="$VENV/.spon-installed"
if [[ -f "$vstamp" && "$(cat "$vstamp")" == "$want" ]] && "$VENV/bin/python" -c "import spon" 2>/dev/null; then
  log "virtualenv up to date ($VENV)"
else
  log "creating $VENV"
  export HDF5_MPI=ON CC=mpicc CXX=mpicxx HDF5_DIR=/usr/lib/x86_64-linux-gnu/hdf5/openmpi
  [[ -d "$VENV" ]] || python3 -m venv "$VENV"
  pip="quiet $VENV/bin/python -m pip"
  $pip install -q -U pip "setuptools>=77" "cython>=3,<4" "pkgconfig>=1.5.5" packaging numpy "mpi4py==4.1.2" wheel
  # petsc4py (one huge C file, ~7 min) and h5py (~3.5 min) each compile on one
  # core: build them side by side. petsc4py's wheel lands in pip's cache too.
  wheels="$VENV/.wheels"
  mkdir -p "$wheels"
  $pip wheel -q --no-deps --no-build-isolation "petsc4py==$PETSC_VERSION" -w "$wheels" \
    > "$VENV/.petsc4py-build.log" 2>&1 &
  p4p=$!
  # Trap: an isolated build of h5py compiles an old mpi4py from source and gcc
  # then takes ~21 GB of RAM. Build it here against the wheel mpi4py instead.
  $pip install -q --no-binary h5py --no-build-isolation "h5py>3.12.1"
  log "h5py built ($((SECONDS - t0)) s so far)"
  wait "$p4p" || { tail -40 "$VENV/.petsc4py-build.log"; exit 1; }
  $pip install -q --no-deps "$wheels"/petsc4py-"$PETSC_VERSION"-*.whl
  log "petsc4py built ($((SECONDS - t0)) s so far)"
  # Trap: a bare 'torch' pulls a multi-GB CUDA build; 2.13.0 is a CPU wheel on disk.
  $pip install -q "torch==$TORCH_VERSION"
  $pip install -q "firedrake[check]==$FIREDRAKE_VERSION"
  log "firedrake installed ($((SECONDS - t0)) s so far)"
  $pip install -q "torch==$TORCH_VERSION" -e ".[$EXTRAS]"
  echo "$want" > "$vstamp"
  log "virtualenv ready ($((SECONDS - t0)) s so far)"
fi
log "done in $((SECONDS - t0)) s"
