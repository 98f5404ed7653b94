# Sourced by recipes: turns `--some-option value` into `some_option=value` for variables the
# recipe already defined (Kaldi/icefall convention); `--help` prints $help_message and exits.
# Unknown options are an error, so a typo never silently runs the default. Only lower-case
# recipe variables are options: `--PATH x`, `--help-message x` or `--_x y` are refused too.
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h)
      echo -e "${help_message:-no help available}"
      exit 0 ;;
    --*=*)
      _name="${1%%=*}"; _value="${1#*=}"; shift ;;
    --*)
      _name="$1"
      if [[ $# -lt 2 ]]; then echo "$0: option $1 needs a value" >&2; exit 1; fi
      _value="$2"; shift 2 ;;
    *)
      echo "$0: unexpected argument '$1' (options look like --name value; see --help)" >&2
      exit 1 ;;
  esac
  _var="${_name#--}"; _var="${_var//-/_}"
  if ! [[ $_var =~ ^[a-z][a-z0-9_]*$ ]] || [[ $_var == help_message || -z "${!_var+set}" ]]; then
    echo "$0: unknown option $_name (see --help)" >&2
    exit 1
  fi
  printf -v "$_var" '%s' "$_value"
done
unset _name _value _var
