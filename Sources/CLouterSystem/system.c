#define _GNU_SOURCE
#include "CLouterSystem.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <stddef.h>
#include <malloc.h>
#include <pthread.h>

int clouter_malloc_trim(void) { return malloc_trim(0); }

int clouter_name_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }

const int clouter_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int clouter_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
const int clouter_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
const uint32_t clouter_EPOLLIN = EPOLLIN;
const uint32_t clouter_EPOLLOUT = EPOLLOUT;
const uint32_t clouter_EPOLLERR = EPOLLERR;
const uint32_t clouter_EPOLLHUP = EPOLLHUP;
const uint32_t clouter_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t clouter_EPOLLET = EPOLLET;

int clouter_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int clouter_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
  struct epoll_event event;
  event.events = events;
  event.data.u64 = data;
  return epoll_ctl(epfd, op, fd, &event);
}

int clouter_epoll_wait(int epfd, uint32_t *events, uint64_t *datas, int max_events, int timeout_ms) {
  struct epoll_event buffer[256];
  if (max_events > 256) max_events = 256;
  int count = epoll_wait(epfd, buffer, max_events, timeout_ms);
  for (int i = 0; i < count; i++) {
    events[i] = buffer[i].events;
    datas[i] = buffer[i].data.u64;
  }
  return count;
}

int clouter_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int clouter_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }
