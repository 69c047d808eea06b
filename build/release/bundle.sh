#!/usr/bin/env bash
# bundle.sh lays out a release of modelbar with the MLX libraries inside, so
# that it runs with nothing installed but the OS (see issue 19):
#
#   bundle.sh linux  VERSION ARCH BINARY MLX_LIB_DIR OUT_DIR
#     OUT_DIR/modelbar-VERSION-linux-ARCH/{modelbar,lib/libmlxc.so,lib/libmlx.so},
#     libmlxc's and libmlx's run path set to $ORIGIN (each finds the other in
#     lib/; modelbar looks in lib/ beside itself), checked with readelf, then
#     OUT_DIR/modelbar-VERSION-linux-ARCH.tar.gz and its .sha256.
#
#   bundle.sh darwin APP MLX_LIB_DIR
#     copies libmlxc.dylib and libmlx.dylib into APP/Contents/Frameworks and
#     mlx.metallib into Contents/Resources with a relative symlink to it in
#     Frameworks (MLX loads it from beside libmlx; codesign wants only code
#     in Frameworks, data in Resources), gives the dylibs @rpath
#     install names and an @loader_path run path, and checks with otool that
#     no Mach-O in the app refers to a path outside the bundle and the OS
#     (/opt/homebrew, /usr/local, a build directory). macOS only; the app is
#     signed afterwards (sign-darwin.sh): install_name_tool breaks signatures.
#     It also writes the app's login item, a LaunchAgent that starts
#     Contents/MacOS/<exe> --hidden, to
#     APP/Contents/Library/LaunchAgents/<bundle id>.plist, where
#     SMAppService agentServiceWithPlistName: finds it (see
#     backend/desktop/appservice.go).
#
#   bundle.sh launch-agent BUNDLE_ID EXECUTABLE
#     prints that LaunchAgent plist (any OS; what the tests check).
#
# MLX_LIB_DIR is the lib directory of an MLX + mlx-c install (cmake
# --install), e.g. $prefix/lib.
set -euo pipefail

die() { echo "bundle.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found ($2)"; }

# sha256 writes FILE.sha256 in the format `sha256sum -c` and
# `shasum -a 256 -c` read, naming the file without its directory.
sha256() {
  local dir base
  dir=$(dirname "$1"); base=$(basename "$1")
  if command -v sha256sum >/dev/null 2>&1; then
    (cd "$dir" && sha256sum "$base" >"$base.sha256")
  else
    (cd "$dir" && shasum -a 256 "$base" >"$base.sha256")
  fi
}

# elf_field prints the values of the dynamic-section entries of an ELF file
# whose type matches the extended regex $2 (NEEDED, RUNPATH|RPATH), one a line.
elf_field() {
  readelf -d "$1" | { grep -E "\((${2})\)" || true; } | sed -E 's/.*\[(.*)\]$/\1/'
}

linux() {
  [ $# -eq 5 ] || die "usage: bundle.sh linux VERSION ARCH BINARY MLX_LIB_DIR OUT_DIR"
  local version=$1 arch=$2 binary=$3 libdir=$4 out=$5
  need patchelf "apt-get install patchelf"
  need readelf "apt-get install binutils"
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version $version is not like 1.2.3"
  [ -x "$binary" ] || die "$binary is not an executable file"
  local lib
  for lib in libmlxc.so libmlx.so; do
    [ -f "$libdir/$lib" ] || die "$libdir/$lib not found (build mlx and mlx-c and install them there)"
  done

  local name="modelbar-$version-linux-$arch"
  local dest="$out/$name"
  rm -rf "$dest" "$dest.tar.gz" "$dest.tar.gz.sha256"
  mkdir -p "$dest/lib"
  dest=$(cd "$dest" && pwd) # absolute: ldd below names what it resolves by it
  out=$(dirname "$dest")
  cp "$binary" "$dest/modelbar"
  # -L: the install may hold versioned names behind symlinks; the tarball
  # holds the files under the names that are looked up.
  cp -L "$libdir/libmlxc.so" "$libdir/libmlx.so" "$dest/lib/"
  chmod 0755 "$dest/modelbar"
  chmod 0644 "$dest/lib/"*.so

  for lib in libmlxc.so libmlx.so; do
    # $ORIGIN is the directory of the library itself: lib/. patchelf
    # writes RUNPATH (searched by dlopen for the library's own NEEDED).
    # shellcheck disable=SC2016 # $ORIGIN is for the dynamic loader, not the shell
    patchelf --set-rpath '$ORIGIN' "$dest/lib/$lib"
    local rp
    rp=$(elf_field "$dest/lib/$lib" 'RUNPATH|RPATH')
    # shellcheck disable=SC2016
    [ "$rp" = '$ORIGIN' ] || die "$lib: run path is '$rp' after patchelf, want \$ORIGIN"
  done
  # (Outputs are captured before grep -q reads them: grep -q ending a pipe
  # early would fail it under pipefail.)
  local needed resolved
  needed=$(elf_field "$dest/lib/libmlxc.so" NEEDED)
  grep -qx 'libmlx\.so' <<<"$needed" ||
    die "libmlxc.so does not name libmlx.so among its NEEDED libraries: $(tr '\n' ' ' <<<"$needed")"
  # Every library it needs resolves from the layout alone (no
  # LD_LIBRARY_PATH): libmlx from lib/, the rest from the system.
  resolved=$(env -u LD_LIBRARY_PATH ldd "$dest/lib/libmlxc.so")
  if grep -q 'not found' <<<"$resolved"; then
    die "libmlxc.so has unresolved libraries in the bundle:"$'\n'"$resolved"
  fi
  grep -qF "libmlx.so => $dest/lib/libmlx.so" <<<"$resolved" ||
    die "libmlxc.so does not resolve libmlx.so to $dest/lib/libmlx.so:"$'\n'"$resolved"

  tar -C "$out" --owner=0 --group=0 --numeric-owner --sort=name -czf "$dest.tar.gz" "$name"
  sha256 "$dest.tar.gz"
  echo "$dest.tar.gz"
}

# macho_deps prints the libraries a Mach-O file refers to (otool -L without
# the header line and the version suffix).
macho_deps() {
  otool -L "$1" | tail -n +2 | sed -E 's/^[[:space:]]+//; s/ \(compatibility.*$//'
}

# macho_rpaths prints the LC_RPATH entries of a Mach-O file.
macho_rpaths() {
  otool -l "$1" | awk '/cmd LC_RPATH/ {r=1} r && /path / {print $2; r=0}'
}

# launch_agent prints the LaunchAgent the app bundle ships for
# SMAppService: BundleProgram is relative to the bundle; ProgramArguments
# are its argv, with --hidden so that a login opens the menu-bar icon and
# not the window. Its Label is not the bundle id, which is the label of the
# LaunchAgent older modelbars wrote to ~/Library/LaunchAgents: launchd may
# still have that one loaded when this one is registered.
launch_agent() {
  [ $# -eq 2 ] || die "usage: bundle.sh launch-agent BUNDLE_ID EXECUTABLE"
  local id=$1 exe=$2
  [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || die "bundle id '$id' is not like dev.modelbar.modelbar"
  [[ $exe =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "executable name '$exe' is not a plain file name"
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>$id.login</string>
	<key>BundleProgram</key>
	<string>Contents/MacOS/$exe</string>
	<key>ProgramArguments</key>
	<array>
		<string>Contents/MacOS/$exe</string>
		<string>--hidden</string>
	</array>
	<key>AssociatedBundleIdentifiers</key>
	<array>
		<string>$id</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
EOF
}

darwin() {
  [ $# -eq 2 ] || die "usage: bundle.sh darwin APP MLX_LIB_DIR"
  local app=$1 libdir=$2
  [ "$(uname -s)" = Darwin ] || die "the darwin layout needs macOS (install_name_tool, otool)"
  [ -x "$app/Contents/MacOS/modelbar" ] || die "$app/Contents/MacOS/modelbar not found (run wails build first)"
  local f
  for f in libmlxc.dylib libmlx.dylib mlx.metallib; do
    [ -f "$libdir/$f" ] || die "$libdir/$f not found (build mlx and mlx-c with Metal and install them there)"
  done

  local fw="$app/Contents/Frameworks"
  mkdir -p "$fw" "$app/Contents/Resources"
  cp -L "$libdir/libmlxc.dylib" "$libdir/libmlx.dylib" "$fw/"
  chmod 0644 "$fw/"*.dylib
  cp -L "$libdir/mlx.metallib" "$app/Contents/Resources/"
  ln -sfn ../Resources/mlx.metallib "$fw/mlx.metallib"

  local lib dep rp
  for lib in libmlxc.dylib libmlx.dylib; do
    install_name_tool -id "@rpath/$lib" "$fw/$lib"
    # libmlxc's reference to libmlx, whatever the build wrote (an
    # absolute Homebrew or build path, or @rpath already).
    while IFS= read -r dep; do
      case "$dep" in
        */libmlx.dylib | */libmlxc.dylib)
          [ "$dep" = "@rpath/$(basename "$dep")" ] ||
            install_name_tool -change "$dep" "@rpath/$(basename "$dep")" "$fw/$lib" ;;
      esac
    done < <(macho_deps "$fw/$lib")
    while IFS= read -r rp; do
      install_name_tool -delete_rpath "$rp" "$fw/$lib"
    done < <(macho_rpaths "$fw/$lib")
    install_name_tool -add_rpath @loader_path "$fw/$lib"
  done

  # Check every Mach-O file in the app: each library it refers to is in the
  # bundle (@rpath, @loader_path, @executable_path) or the OS's.
  local bad=""
  while IFS= read -r f; do
    [[ $(file -b "$f") == *Mach-O* ]] || continue
    while IFS= read -r dep; do
      case "$dep" in
        @rpath/* | @loader_path/* | @executable_path/* | /usr/lib/* | /System/Library/*) ;;
        *) bad+="$f refers to $dep"$'\n' ;;
      esac
    done < <(macho_deps "$f")
    while IFS= read -r rp; do
      case "$rp" in
        @loader_path* | @executable_path*) ;;
        *) bad+="$f has the run path $rp"$'\n' ;;
      esac
    done < <(macho_rpaths "$f")
  done < <(find "$app/Contents/MacOS" "$fw" -type f)
  [ -z "$bad" ] || die "paths outside the bundle remain:"$'\n'"$bad"
  if otool -L "$app/Contents/MacOS/modelbar" "$fw"/*.dylib | grep -E '/opt/homebrew|/usr/local'; then
    die "a Homebrew path remains (above)"
  fi

  local id exe agents
  id=$(/usr/libexec/PlistBuddy -c 'Print :CFBundleIdentifier' "$app/Contents/Info.plist")
  exe=$(/usr/libexec/PlistBuddy -c 'Print :CFBundleExecutable' "$app/Contents/Info.plist")
  agents="$app/Contents/Library/LaunchAgents"
  mkdir -p "$agents"
  launch_agent "$id" "$exe" >"$agents/$id.plist"
  plutil -lint "$agents/$id.plist"
  echo "$app: Frameworks bundled, install names checked, login item in $agents/$id.plist"
}

[ $# -ge 1 ] || die "usage: bundle.sh linux|darwin|launch-agent ..."
cmd=$1; shift
case "$cmd" in
  linux) linux "$@" ;;
  darwin) darwin "$@" ;;
  launch-agent) launch_agent "$@" ;;
  *) die "unknown target $cmd: want linux, darwin or launch-agent" ;;
esac
