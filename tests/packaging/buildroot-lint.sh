#!/usr/bin/env bash
echo "placeholder" >&2; exit 1
