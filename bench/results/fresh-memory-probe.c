// Fill fresh memory as the loader does: T threads, each allocating 50 MiB "parameters" (own mmap) and writing
// bfloat16 converted from a float32 source, 1 MiB of output at a time. mode 0: fault on write; mode 1: MADV_POPULATE_WRITE
// each output chunk just before writing it; mode 2: populate the whole parameter first; mode 3: huge pages + mode 1.
#define _GNU_SOURCE
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/resource.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static size_t total, param=50u<<20, chunk=1u<<20; static int mode, threads; static float* src; static size_t srcn=32u<<20;
static void* work(void* a){ size_t mine=total/threads; size_t off=0;
  for(size_t done=0; done<mine; done+=param){
    size_t n=param; static __thread char* keep; char* p= (mode==4 && keep)? keep : mmap(0,n+(2<<20),PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
    if(mode==4) keep=p;
    if(mode==3){ p=(char*)(((uintptr_t)p+(2<<20)-1)&~((uintptr_t)(2<<20)-1)); madvise(p,n,MADV_HUGEPAGE);} 
    if(mode==2) madvise(p,n,MADV_POPULATE_WRITE);
    for(size_t o=0;o<n;o+=chunk){
      if(mode==1||mode==3) madvise(p+o,chunk,MADV_POPULATE_WRITE);
      uint16_t* d=(uint16_t*)(p+o); size_t k=chunk/2;
      const uint32_t* s=(const uint32_t*)(src+(off%(srcn-k))); off+=k;
      for(size_t i=0;i<k;i++){ uint32_t x=s[i]; d[i]=(uint16_t)((x+0x7fff+((x>>16)&1))>>16);} }
  }
  return 0; }
int main(int c,char**v){ total=(size_t)atol(v[1])<<20; mode=atoi(v[2]); threads=atoi(v[3]);
  src=malloc(srcn*4); for(size_t i=0;i<srcn;i++) src[i]=(float)i*0.001f;
  struct rusage r0,r1; getrusage(RUSAGE_SELF,&r0); double t=now();
  pthread_t th[16]; for(int i=0;i<threads;i++) pthread_create(&th[i],0,work,0); for(int i=0;i<threads;i++) pthread_join(th[i],0);
  double d=now()-t; getrusage(RUSAGE_SELF,&r1);
  double cpu=(r1.ru_utime.tv_sec-r0.ru_utime.tv_sec)+(r1.ru_utime.tv_usec-r0.ru_utime.tv_usec)*1e-6+(r1.ru_stime.tv_sec-r0.ru_stime.tv_sec)+(r1.ru_stime.tv_usec-r0.ru_stime.tv_usec)*1e-6;
  printf("mode=%d threads=%d %.2f GB in %.2f s = %.2f GB/s, cpu %.2f s, minflt %ld\n",mode,threads,total/1e9,d,total/d/1e9,cpu,r1.ru_minflt-r0.ru_minflt); }
