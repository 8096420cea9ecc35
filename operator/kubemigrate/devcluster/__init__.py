"""The local cluster used by the tests and ``kubemigrate demo``.

An API server emulator, a kubelet stand-in, a throwaway PostgreSQL and the real
kubectl: test equipment that behaves like the real parts where our code depends
on them (see ARCHITECTURE.md, "Test rig").
"""
