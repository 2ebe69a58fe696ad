"""Writes the 100,000 search documents of fts_cost.py as tab-separated lines to the file given."""
M=(1<<64)-1
class Rng:
    def __init__(s,x): s.x=x
    def next(s):
        s.x=(s.x+0x9E3779B97F4A7C15)&M; z=s.x
        z=((z^(z>>30))*0xBF58476D1CE4E5B9)&M
        z=((z^(z>>27))*0x94D049BB133111EB)&M
        return z^(z>>31)
    def word(s):
        u=(s.next()>>11)/float(1<<53); return int(u*u*u*4000)
ON=["b","d","f","g","k","l","m","n","p","r","s","t","v","z","ch","sh"]; VO=["a","e","i","o","u"]
def syl(n): return ON[n%16]+VO[(n//16)%5]
def word(i): return syl(i%80)+syl((i//80)%80)+syl(i//6400)+"x"
r=Rng(7)
import sys
with open(sys.argv[1],'w') as f:
    for k in range(100000):
        t=" ".join(word(r.word()) for _ in range(7)); b=" ".join(word(r.word()) for _ in range(60))
        f.write("%032x\tLOCAL-%d\t%s\t%s\n"%(k,k,t,b))
