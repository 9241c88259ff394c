# Sourced by the other scripts: puts the project's tools on PATH.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$repo/.tools/node_modules/.bin:$PATH"
cd "$repo"
