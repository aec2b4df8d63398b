// Counts calls into TorchSharp's native library (every THS* function: one per libtorch op, tensor release, shape
// read...). Preloaded with LD_PRELOAD, it interposes dlsym: the .NET runtime resolves each P/Invoke with dlsym, and
// for THS* names gets back a small trampoline that bumps that function's counter and jumps to the real one (the
// arguments are untouched: only rax, a scratch register, is used). callcount_dump(path) writes "count name" lines.
//
// Build: gcc -O2 -shared -fPIC -o libcallcount.so callcount.c -ldl   (bench/callcount/run.sh does it)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_FUNCTIONS 8192
#define TRAMPOLINE_SIZE 32

static struct { char name[96]; void *target; void *trampoline; uint64_t count; } functions[MAX_FUNCTIONS];
static int function_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *code;
static size_t code_used, code_size;

static void *(*real_dlsym)(void *, const char *);

static void *make_trampoline(uint64_t *counter, void *target)
{
    if (!code || code_used + TRAMPOLINE_SIZE > code_size) {
        code_size = 1 << 20;
        code = mmap(NULL, code_size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (code == MAP_FAILED) { code = NULL; return NULL; }
        code_used = 0;
    }
    unsigned char *p = code + code_used;
    code_used += TRAMPOLINE_SIZE;
    p[0] = 0x48; p[1] = 0xB8; memcpy(p + 2, &counter, 8);          // movabs rax, counter
    p[10] = 0xF0; p[11] = 0x48; p[12] = 0xFF; p[13] = 0x00;         // lock inc qword [rax]
    p[14] = 0x48; p[15] = 0xB8; memcpy(p + 16, &target, 8);         // movabs rax, target
    p[24] = 0xFF; p[25] = 0xE0;                                     // jmp rax
    return p;
}

void *dlsym(void *handle, const char *name)
{
    if (!real_dlsym) {
        real_dlsym = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
        if (!real_dlsym) real_dlsym = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    }
    void *target = real_dlsym(handle, name);
    if (!target || strncmp(name, "THS", 3) != 0) return target;
    pthread_mutex_lock(&lock);
    void *result = target;
    for (int i = 0; i < function_count; i++)
        if (functions[i].target == target) { result = functions[i].trampoline; goto done; }
    if (function_count < MAX_FUNCTIONS && strlen(name) < sizeof functions[0].name) {
        int i = function_count;
        strcpy(functions[i].name, name);
        functions[i].target = target;
        functions[i].trampoline = make_trampoline(&functions[i].count, target);
        if (functions[i].trampoline) { result = functions[i].trampoline; function_count++; }
    }
done:
    pthread_mutex_unlock(&lock);
    return result;
}

// Writes every counted function with its calls so far; returns the total, or -1 when the file cannot be written.
long long callcount_dump(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    long long total = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < function_count; i++) {
        uint64_t n = __atomic_load_n(&functions[i].count, __ATOMIC_RELAXED);
        if (n) fprintf(f, "%llu %s\n", (unsigned long long)n, functions[i].name);
        total += (long long)n;
    }
    pthread_mutex_unlock(&lock);
    fclose(f);
    return total;
}
