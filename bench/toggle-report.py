#!/usr/bin/env python3
"""Report of a toggle run (bench/toggle.sh): MARKS holds a line per window boundary (unix time,
roster CPU ticks, PostgreSQL server CPU ticks or 0), RESULTS vegeta's results as CSV. Windows
alternate with events and without, starting with; each window with events is compared with
the mean of the windows without on either side of it.
Usage: toggle-report.py MARKS RESULTS CLK_TCK LABEL"""
import sys,csv,bisect,statistics as st
marks=[tuple(map(float,l.split())) for l in open(sys.argv[1])]; hz=float(sys.argv[3])
import collections
ts=[m[0] for m in marks]; n=[0]*(len(marks)-1); bad=collections.Counter()
for r in csv.reader(open(sys.argv[2])):
    end=int(r[0])/1e9+int(r[2])/1e9; i=bisect.bisect_right(ts,end)-1
    if 0<=i<len(n):
        if r[1].startswith('2'): n[i]+=1
        else: bad[r[1]+(' '+r[5][:60] if r[5] else '')]+=1
win=[]
for i in range(len(n)):
    dt=ts[i+1]-ts[i]; cpu=(marks[i+1][1]-marks[i][1])/hz; pg=(marks[i+1][2]-marks[i][2])/hz
    win.append(dict(on=i%2==0,rps=n[i]/dt,cpu=cpu/max(n[i],1)*1e6,pg=pg/max(n[i],1)*1e6,n=n[i]))
# Each window with events against the mean of the windows without on either side of it.
rc,rr,rp=[],[],[]
for i,x in enumerate(win):
    if not x['on']: continue
    nb=[win[j] for j in (i-1,i+1) if 0<=j<len(win)]
    off=lambda k: st.mean(y[k] for y in nb)
    rc.append(x['cpu']/off('cpu')-1); rr.append(x['rps']/off('rps')-1)
    if x['pg']: rp.append((x['cpu']+x['pg'])/(off('cpu')+off('pg'))-1)
on=[x for x in win if x['on']]; off=[x for x in win if not x['on']]
tot=lambda ws,k: sum(x[k]*x['n'] for x in ws)/sum(x['n'] for x in ws)
q=lambda v: f"median {100*st.median(v):+.1f}%, quartiles {100*st.quantiles(v,n=4)[0]:+.1f}% .. {100*st.quantiles(v,n=4)[2]:+.1f}%, range {100*min(v):+.1f}% .. {100*max(v):+.1f}%"
print(f"{sys.argv[4]}: {len(win)} windows of {st.mean(ts[i+1]-ts[i] for i in range(len(n))):.1f} s, {sum(n)} requests ({sum(bad.values())} not 2xx{': '+str(dict(bad.most_common(3))) if bad else ''})")
print(f"  roster CPU per request: with events {tot(on,'cpu'):.0f} µs, without {tot(off,'cpu'):.0f} µs: {100*(tot(on,'cpu')/tot(off,'cpu')-1):+.1f}%; window by window {q(rc)}")
print(f"  req/s: with {st.mean(x['rps'] for x in on):.0f}, without {st.mean(x['rps'] for x in off):.0f}: {100*(st.mean(x['rps'] for x in on)/st.mean(x['rps'] for x in off)-1):+.1f}%; window by window {q(rr)}")
if rp: print(f"  roster + PostgreSQL server CPU per request: with {tot(on,'cpu')+tot(on,'pg'):.0f} µs, without {tot(off,'cpu')+tot(off,'pg'):.0f} µs: {100*((tot(on,'cpu')+tot(on,'pg'))/(tot(off,'cpu')+tot(off,'pg'))-1):+.1f}%; window by window {q(rp)}")
