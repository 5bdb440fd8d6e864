# bash completion for cmboot. The options of each command are read from `cmboot COMMAND --help`, so they
# follow the installed binary instead of a list kept here.

_cmboot_options()
{
    # $1: command; cached per command for the shell's life
    local var="_cmboot_opts_${1//-/_}"
    if [[ -z ${!var-} ]]; then
        printf -v "$var" '%s' "$("${_cmboot_bin:-cmboot}" "$1" --help 2>/dev/null |
            grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')"
    fi
    printf '%s\n' "${!var}"
}

_cmboot()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="boot list doctor flash write records power mode help"
    _cmboot_bin=${COMP_WORDS[0]}
    local cmd="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        boot | list | doctor | flash | write | power | mode | help)
            cmd=${COMP_WORDS[i]}
            break
            ;;
        esac
    done
    COMPREPLY=()
    case $prev in
    -d | --dir | -j | --metadata-dir | --report-dir | --log-dir | --sys-root | --dev-root | --proc-root)
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
        ;;
    --bmap | --report | --control-file | --kernel-config | --target)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --discovery)
        mapfile -t COMPREPLY < <(compgen -W "sysfs libusb" -- "$cur")
        return
        ;;
    --via)
        mapfile -t COMPREPLY < <(compgen -W "auto msd fastboot" -- "$cur")
        return
        ;;
    --target-kind)
        mapfile -t COMPREPLY < <(compgen -W "emmc nvme sd" -- "$cur")
        return
        ;;
    esac
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$(_cmboot_options boot)" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return
    fi
    if [[ $cur == -* ]]; then
        [[ $cmd == help ]] && return
        mapfile -t COMPREPLY < <(compgen -W "$(_cmboot_options "$cmd")" -- "$cur")
        return
    fi
    case $cmd in
    help) mapfile -t COMPREPLY < <(compgen -W "${commands% help}" -- "$cur") ;;
    power) mapfile -t COMPREPLY < <(compgen -W "on off cycle" -- "$cur") ;;
    mode) mapfile -t COMPREPLY < <(compgen -W "usb normal" -- "$cur") ;;
    flash | write) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    esac
}
complete -F _cmboot cmboot
