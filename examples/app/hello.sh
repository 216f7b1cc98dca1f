#!/bin/sh
echo "$GREETING from $(cat /opt/hello/banner)"
