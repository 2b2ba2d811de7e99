#ifndef CLOUTER_SYSTEM_H
#define CLOUTER_SYSTEM_H

// The few Linux calls that Swift's Glibc module does not expose (epoll,
// eventfd). Thin pass-throughs only: all error handling lives in Swift's
// one syscall wrapper.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int clouter_epoll_create(void);
int clouter_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits for events; fills parallel arrays of event masks and user data.
int clouter_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max_events, int timeout_ms);
int clouter_eventfd(void);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (glibc exposes accept4 only with _GNU_SOURCE).
int clouter_accept(int fd);
/// malloc_trim(0): <malloc.h> is not part of Swift's Glibc module.
int clouter_malloc_trim(void);

extern const int clouter_EPOLL_CTL_ADD;
extern const int clouter_EPOLL_CTL_MOD;
extern const int clouter_EPOLL_CTL_DEL;
extern const uint32_t clouter_EPOLLIN;
extern const uint32_t clouter_EPOLLOUT;
extern const uint32_t clouter_EPOLLERR;
extern const uint32_t clouter_EPOLLHUP;
extern const uint32_t clouter_EPOLLRDHUP;
extern const uint32_t clouter_EPOLLET;

#ifdef __cplusplus
}
#endif

#endif
