#!/bin/sh
# The demo's built-in workload: what a network daemon does when links come and go, with
# dumpers reading the whole table meanwhile. iproute2 is called by absolute path (busybox has
# an `ip` applet of its own).
IP=/usr/sbin/ip
N=${N:-40}
for i in $(seq 1 $N); do $IP link add demo$i type dummy; done
# Two dumpers in the background while the writers run.
( for j in 1 2 3 4 5; do $IP -d link show >/dev/null; $IP addr show >/dev/null; done ) &
( for j in 1 2 3 4 5; do $IP -d link show >/dev/null; $IP route show >/dev/null; done ) &
for i in $(seq 1 $N); do
    $IP link set demo$i up
    $IP addr add 10.77.$i.1/24 dev demo$i
    $IP route add 10.177.$i.0/24 via 10.77.$i.2
    $IP neigh add 10.77.$i.2 lladdr 02:00:00:00:00:$(printf %02x $i) dev demo$i
done
for i in $(seq 1 10); do $IP route get 10.177.$i.9 >/dev/null; done
ip_link_mtu=/sys/class/net/demo1/mtu
echo 1400 > $ip_link_mtu
wait
for i in $(seq 1 $N); do $IP link del demo$i; done
